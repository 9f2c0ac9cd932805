"""Operations console: the request queue."""
