-- placeholder, filled in by its owner this session
SELECT 1;
