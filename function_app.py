"""The composition root: one Durable Functions app with every blueprint registered. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import booking as booking_activities
from activities import reconcile as reconcile_activities
from activities import reminders as reminder_activities
from orchestrators import booking_saga, cancel_saga, reschedule_saga
from orchestrators import reconcile as reconcile_orchestrators
from orchestrators import reminders as reminder_orchestrators
from triggers import booking_api, entra_bookings, health, openapi, widget
from triggers import graph_notifications, schedules
from triggers import voice
from triggers import admin, retention
from triggers import manage
from triggers import sms_inbound
from triggers import waitlist

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (health.bp, booking_api.bp, entra_bookings.bp, openapi.bp, widget.bp,
                  booking_saga.bp, reschedule_saga.bp, cancel_saga.bp, booking_activities.bp,
                  graph_notifications.bp, schedules.bp, reconcile_orchestrators.bp, reconcile_activities.bp,
                  voice.bp, admin.bp, retention.bp, manage.bp, sms_inbound.bp,
                  reminder_orchestrators.bp, reminder_activities.bp, waitlist.bp):
    app.register_functions(blueprint)
