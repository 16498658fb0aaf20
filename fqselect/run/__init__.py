"""Around the stages: the per-input job, the models it loads, batches and where they run (here, supervised
worker processes, Ray), the command's crash guard and process settings."""
