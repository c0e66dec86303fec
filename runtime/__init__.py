"""Terrarium: a real, container-backed AWS-style cloud on one Linux host."""
