-- The admin search's indexes on columns a new user leaves empty hold only the rows that
-- have a value (a search for a value never matches NULL), so inserting a user writes
-- fewer index pages. The SQLite migration of the same number also stores its text-keyed
-- tables WITHOUT ROWID; PostgreSQL's heap tables have no such choice.
DROP INDEX users_nickname;
CREATE INDEX users_nickname ON users (nickname, id) WHERE nickname IS NOT NULL;
DROP INDEX users_phone_index;
CREATE INDEX users_phone_index ON users (phone_index) WHERE phone_index IS NOT NULL;
DROP INDEX users_pure_phone_index;
CREATE INDEX users_pure_phone_index ON users (pure_phone_index) WHERE pure_phone_index IS NOT NULL;
DROP INDEX identities_unionid;
CREATE INDEX identities_unionid ON identities (unionid) WHERE unionid IS NOT NULL;
