"""rebac."""
