-- The service thresholds of the health score (the seed's: frame rate below
-- 400, latency above 2 ms), for services that report those figures.
INSERT INTO settings (key, value, type, description, updated_at) VALUES
    ('health_service_fps_min', '400', 'number', 'a service reporting fewer frames a second lowers the health score', 0),
    ('health_service_latency_ms', '2', 'number', 'a service reporting a higher latency (ms) lowers the health score', 0);
