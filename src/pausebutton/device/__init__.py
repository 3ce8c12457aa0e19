"""The device side: the agent that keeps a device's view of governance fresh (emulation)."""
