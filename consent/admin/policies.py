"""Operations console: policies."""
