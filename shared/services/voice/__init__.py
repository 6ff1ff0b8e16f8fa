"""The phone receptionist's service layer: Twilio webhooks in, TwiML out (see ``service``).

``service`` runs a turn (call state in Table Storage, the dialog state machine, TwiML); ``understand``
is the language step (local parser, or a model under a budget with the parser as fallback);
``actions`` does what the dialog asks (availability, the booking saga, messages to the owner);
``twiml`` renders the answer with the twilio library.
"""

from shared.services.voice.service import CallRecord, VoiceService, Webhook, get_voice_service
from shared.services.voice.twiml import TurnUrls, apology

__all__ = ["CallRecord", "TurnUrls", "VoiceService", "Webhook", "apology", "get_voice_service"]
