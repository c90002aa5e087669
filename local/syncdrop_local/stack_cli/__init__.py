"""Commands for a deployed syncdrop stack, found by its CloudFormation name."""
