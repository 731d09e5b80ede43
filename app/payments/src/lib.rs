//! Payment provider adapters (Stripe, PayPal): REST clients, webhook verification, normalised events.
