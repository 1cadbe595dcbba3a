-- Which channels are failing: the recent failures, and each channel's last success.
-- Both are small probes for the console's operations banner and for re-routing a
-- delivery_failed alert away from the gateway that failed.
CREATE INDEX alert_deliveries_failed ON alert_deliveries (failed_at) WHERE status = 'failed';
CREATE INDEX alert_deliveries_last_sent ON alert_deliveries (channel, sent_at)
    WHERE status = 'sent';
