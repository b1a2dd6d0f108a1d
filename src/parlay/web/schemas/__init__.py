"""Request bodies: strictly typed, validated at the edge."""
