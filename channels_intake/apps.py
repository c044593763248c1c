from django.apps import AppConfig


class ChannelsIntakeConfig(AppConfig):
    name = "channels_intake"
    verbose_name = "Channels"

    def ready(self) -> None:
        from anymail.signals import inbound

        from channels_intake.email import on_anymail_inbound

        inbound.connect(on_anymail_inbound, dispatch_uid="frontline-email-inbound")
