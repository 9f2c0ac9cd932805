"""The REST API's accounts part: who calls and how strongly they signed in
(``authentication``: personal access tokens and the sign-in assurance DRF pair, used by
every app's API), the token endpoints and the signed-in person (``me``). What every API
shares and needs no account lives below, in ``dataprotection.api``."""
