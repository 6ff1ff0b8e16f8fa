"""How work enters Frontdesk: HTTP and timer functions as Durable blueprints, thin by design."""
