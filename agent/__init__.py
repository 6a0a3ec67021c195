"""codexpanel desktop agent.

The release version lives here because this package is what the relay publishes to
desktops (SPEC DEV-7): the relay, the Python distribution and the agent manifest all read
this one number.
"""

__version__ = "0.2.0"
