"""Request rate limits shared by every API process."""
