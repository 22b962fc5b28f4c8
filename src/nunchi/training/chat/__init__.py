"""Building the chat app's shipped data: the synthetic sample recorded chat."""
