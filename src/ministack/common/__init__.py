"""What every service shares: settings access, database, RPC bus, errors, policy, web glue."""
