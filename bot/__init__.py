"""farmgate: pools smallholder coffee harvests into lots and sells them to merchants in chat."""
