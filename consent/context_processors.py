"""Template context of the consent app."""


def cookie_banner(request) -> dict:
    return {}
