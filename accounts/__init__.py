"""Personal accounts: registration by verified mobile number, sign-in, profile
self-service, real-person authentication and account deletion (ACC-1 to ACC-6)."""
