-- Thresholds of the health score (src/health): a reading past one lowers
-- the score and says why. GPU and CPU defaults are the seed's.
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('health_gpu_util_pct', '85', 'number', 'GPU utilisation (%) past which the health score drops', 0),
    ('health_gpu_temp_c', '80', 'number', 'GPU temperature (°C) past which the health score drops', 0),
    ('health_gpu_power_w', '300', 'number', 'GPU power draw (W) past which the health score drops', 0),
    ('health_cpu_util_pct', '90', 'number', 'CPU utilisation (%) past which the health score drops', 0),
    ('health_cpu_temp_c', '85', 'number', 'CPU temperature (°C) past which the health score drops', 0),
    ('health_mem_used_pct', '90', 'number', 'memory used (%) past which the health score drops', 0),
    ('health_disk_used_pct', '90', 'number', 'data dir disk used (%) past which the health score drops', 0);
