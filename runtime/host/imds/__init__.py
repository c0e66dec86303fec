"""The instance metadata service: 169.254.169.254 inside every VPC, served by Terrarium."""
