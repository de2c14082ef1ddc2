"""Local stand-ins for the managed glue moto does not run; each calls the real handler code."""
