"""HTML pages: the run's report.html and what every page shares (page head, figures, number
formats). Imports only the core; each job's own page (compare, sweep, burn-in) lives with its job."""
