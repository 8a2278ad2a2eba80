-- At most one running capture per channel, across processes and hosts.
CREATE UNIQUE INDEX captures_one_running_per_channel ON captures (channel_id) WHERE state = 'running';
