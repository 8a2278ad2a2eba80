-- At most one running capture per channel, across processes and hosts.
-- Captures left running by a version that had no leases are ended first.
UPDATE captures SET state = 'failed', failure_code = 'interrupted',
       failure = 'the capturing process ended before the capture finished; capture the channel again'
 WHERE state = 'running';
CREATE UNIQUE INDEX captures_one_running_per_channel ON captures (channel_id) WHERE state = 'running';
