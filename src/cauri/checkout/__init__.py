"""The hosted checkout page: where the customer chooses a method and pays."""
