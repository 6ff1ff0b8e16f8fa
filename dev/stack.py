"""The whole local stack in one object: Azurite, every emulator, and the development host serving the app.

``LocalStack`` starts Azurite (in memory), the Graph, Dataverse, ACS SMS, Twilio and OpenAI emulators,
seeds the emulated tenant from the business configuration (a mailbox per host, a Dynamics user per
mapped host), and serves ``function_app`` on the development host with app settings pointing at all
of them. ``python -m dev.stack`` keeps it running until Ctrl+C and prints how to reach it; the demo and
the end-to-end tests use the same class.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUSINESS_CONFIG = ROOT / "config" / "business.example.yaml"


@dataclass
class LocalStack:
    """Start with :meth:`start` (or ``with LocalStack() as stack``); everything stops with :meth:`stop`."""

    business_config_path: Path = DEFAULT_BUSINESS_CONFIG
    port: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    table_prefix: str = "frontdesk"
    azurite: object = None
    graph: object = None
    dataverse: object = None
    acs: object = None
    twilio: object = None
    openai: object = None
    host: object = None
    env: dict[str, str] = field(default_factory=dict)
    _started: list = field(default_factory=list)

    def start(self) -> "LocalStack":
        try:
            self._start_services()
            self._seed_tenant()
            self._start_host()
            self._connect_sms_webhooks()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_services(self) -> None:
        from dev.azurite import start_azurite
        from dev.emulators.acs_sms import start_acs_sms_emulator
        from dev.emulators.dataverse import start_dataverse_emulator
        from dev.emulators.graph import start_graph_emulator
        from dev.emulators.openai_compat import start_openai_emulator
        from dev.emulators.twilio_rest import start_twilio_emulator

        token = "local-" + secrets.token_hex(8)
        self.azurite = self._keep(start_azurite())
        self.graph = self._keep(start_graph_emulator(token=token))
        self.dataverse = self._keep(start_dataverse_emulator(token=token))
        self.acs = self._keep(start_acs_sms_emulator())
        self.twilio = self._keep(start_twilio_emulator())
        self.openai = self._keep(start_openai_emulator())
        self.env = {
            "AzureWebJobsStorage": self.azurite.connection_string,
            "STORAGE__CONNECTION_STRING": self.azurite.connection_string,
            "STORAGE__TABLE_PREFIX": self.table_prefix,
            "DURABLE_TASK_HUB": self.table_prefix,
            "BUSINESS_CONFIG_PATH": str(self.business_config_path),
            "DATAVERSE__URL": self.dataverse.base_url,
            "GRAPH__CLIENT_STATE_SECRET": secrets.token_urlsafe(24),
            "MANAGE__LINK_SECRET": secrets.token_urlsafe(32),
            "SMS__EVENT_GRID_SECRET": secrets.token_urlsafe(24),  # the key in the Event Grid subscription's URL
            **self.graph.env(),
            **self.acs.env(),
            "TWILIO__ACCOUNT_SID": self.twilio.account_sid,
            "TWILIO__AUTH_TOKEN": self.twilio.auth_token,
            "TWILIO__API_BASE_URL": self.twilio.base_url,
            **self.extra_env,
        }

    def _seed_tenant(self) -> None:
        from shared.config import load_business_config
        config = load_business_config(str(self.business_config_path))
        if config.business.email:  # the office mailbox the owner e-mails are sent from
            self.graph.add_user(config.business.email, "Office", time_zone=config.business.time_zone)
        for host in config.hosts:
            self.graph.add_user(host.mailbox, host.display_name, time_zone=host.time_zone)
            if host.dynamics_systemuser_id:
                self.dataverse.add_systemuser(host.display_name, systemuserid=host.dynamics_systemuser_id)

    def _start_host(self) -> None:
        from dev.host import DevHost
        from dev.ports import listening_socket
        from shared import clock
        # The app reads PUBLIC_BASE_URL when it starts (Graph notification URLs), so the port is taken first;
        # the host serves on this very socket (a preferred port that is busy falls back to a free one).
        sock = listening_socket("127.0.0.1", self.port)
        self.env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.host = DevHost("function_app", env=self.env, storage_connection_string=self.azurite.connection_string,
                            sock=sock)
        self._keep(self.host.start())
        clock.use_clock(self.host.clock.now)  # the app's "now" is the host's controlled clock

    def _connect_sms_webhooks(self) -> None:
        """Point both gateways at the app, as DEPLOY.md says to in production, so texting the business works:
        Twilio's "A message comes in" URL, and an Event Grid subscription (validation handshake) for ACS's SMS
        events with the key in its URL. Both are kept across :meth:`reset` (the host keeps its port)."""
        self.twilio.set_sms_url(self.host.url("sms/twilio/incoming"))
        created = self.acs.subscribe(self.host.url(f"sms/acs/events?key={self.env['SMS__EVENT_GRID_SECRET']}"))
        if not created["created"]:
            raise RuntimeError(f"the ACS emulator could not subscribe the app to SMS events: {created}")

    def restart_host(self):
        """Stop the development host and start a new one on the same storage, port, keys and clock offset.

        This is a lost worker: whatever the old host held in memory is gone (in-process caches of services
        are dropped too); the new host resumes every unfinished orchestration from storage, activities in
        flight run again (at least once, as Durable promises), and calls find their state in Table Storage.
        """
        from dev.host import DevClock
        return self._replace_host(DevClock(start=self.host.clock.now()))  # the old clock's offset from real time

    def reset(self) -> None:
        """Back to a state a test can name: nothing running, nothing stored, empty outboxes, real time.

        The host is stopped first, so that no orchestration or activity of an earlier test can write after
        the wipe (a saga still holding a time, a notification being retried); then Frontdesk's tables
        (Durable history included), the mailboxes' events, the Dynamics appointments, every emulator's
        outbox, request log, faults and opt-outs are emptied, and a fresh host starts on the same port and
        keys with a clock on real time. The Graph emulator's subscriptions are kept.
        """
        from dev.host import DevClock
        self.host.stop()
        self._wipe_emulators()
        self._wipe_tables()
        self._replace_host(DevClock(), stopped=True)

    def _replace_host(self, clock, *, stopped: bool = False):
        import sys

        from dev.host import DevHost
        from shared import clock as app_clock
        old = self.host
        if not stopped:
            old.stop()
        from shared.services.container import reset_services
        reset_services()
        voice = sys.modules.get("shared.services.voice.service")
        if voice is not None:
            voice.reset_voice_services()
        new = DevHost("function_app", env=dict(self.env), storage_connection_string=self.azurite.connection_string,
                      port=old.port, master_key=old.master_key, host_key=old.host_key,
                      function_keys=old.function_keys, clock=clock)
        new.start()
        self._started[self._started.index(old)] = new
        self.host = new
        app_clock.use_clock(new.clock.now)
        return new

    def _wipe_emulators(self) -> None:
        """Forget outboxes, request logs, faults, opt-outs, calendar events and CRM appointments."""
        from shared.config import load_business_config
        config = load_business_config(str(self.business_config_path))
        graph = self.graph
        graph.clear_faults()
        for mailbox in [config.business.email, *(host.mailbox for host in config.hosts)]:
            if not mailbox:
                continue
            for event in graph.events(mailbox):
                graph.delete_event(mailbox, event["id"])
        graph.clear_outbox()
        graph.clear_requests()
        graph.clear_deliveries()
        self.acs.reset()
        self.twilio.reset()
        self.openai.reset()
        self.dataverse.clear_faults()
        with self.dataverse.state.lock:
            self.dataverse.state.tables["appointments"].clear()
            self.dataverse.state.requests.clear()
        from shared.services.availability import forget_cached_busy
        forget_cached_busy()  # the app runs in this process: busy times read from the calendars just wiped

    def _wipe_tables(self) -> None:
        """Delete every row of the app's own tables (those carrying the stack's table prefix)."""
        from azure.data.tables import TableServiceClient
        service = TableServiceClient.from_connection_string(self.azurite.connection_string)
        try:
            for table in service.list_tables():
                if not table.name.lower().startswith(self.table_prefix.lower()):
                    continue
                client = service.get_table_client(table.name)
                for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
                    client.delete_entity(entity["PartitionKey"], entity["RowKey"])
        finally:
            service.close()

    def _keep(self, service):
        self._started.append(service)
        return service

    def stop(self) -> None:
        if self.host is not None:
            from shared import clock
            clock.use_clock(None)
        while self._started:
            service = self._started.pop()
            try:
                service.stop()
            except Exception as exc:  # keep stopping the rest
                print(f"warning: could not stop {type(service).__name__}: {exc}", file=sys.stderr)

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> str:
        """Where everything is, for a person at a terminal."""
        rows = [
            ("function app", self.host.base_url + "/api"),
            ("function key", self.host.function_key()),
            ("master key", self.host.master_key),
            ("Graph emulator", self.graph.graph_url),
            ("Dataverse emulator", self.dataverse.base_url),
            ("ACS SMS emulator", self.acs.base_url),
            ("Twilio emulator", self.twilio.base_url),
            ("Twilio auth token", self.env["TWILIO__AUTH_TOKEN"]),
            ("text the business", f"POST {self.twilio.base_url}/_emulator/inbound {{From, Body}} (Twilio) or "
                                  f"{self.acs.base_url}/_emulator/inbound {{from, message}} (ACS)"),
            ("OpenAI emulator", self.openai.base_url),
            ("Azurite tables", self.azurite.table_endpoint),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


def main() -> int:
    from shared.logs import configure_logging
    configure_logging("INFO", json_output=False, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalStack(port=7071) as stack:
        print("Frontdesk local stack is running (Ctrl+C stops it):")
        print(stack.describe())
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
