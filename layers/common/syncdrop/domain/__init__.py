"""The domain: what syncdrop does with an upload, independent of Lambda and of AWS."""
