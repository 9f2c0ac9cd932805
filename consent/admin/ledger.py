"""Operations console: ledger."""
