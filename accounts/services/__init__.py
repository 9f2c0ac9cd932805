"""Every write about personal accounts, one module per area (import the module you
mean: ``from accounts.services import codes``). Each service is atomic, writes one audit
event, and hands side effects (SMS delivery) to ``on_commit``."""
