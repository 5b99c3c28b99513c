"""Chapter 11: risk and position sizing — sizing methods, stops and value at risk."""
