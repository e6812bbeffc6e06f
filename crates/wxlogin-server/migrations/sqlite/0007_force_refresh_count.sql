-- WeChat allows 20 force refreshes of an AppID's access token a day, 30 s apart: counted
-- here, once for every instance (the day is WeChat's, in China).
ALTER TABLE access_tokens ADD COLUMN force_day INTEGER;
ALTER TABLE access_tokens ADD COLUMN force_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE access_tokens ADD COLUMN force_last_at INTEGER;
