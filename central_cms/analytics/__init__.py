"""Analytics and device health: stores, rollups, reports, alert rules and the staff pages."""
