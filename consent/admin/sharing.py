"""Operations console: sharing."""
