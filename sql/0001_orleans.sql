-- Orleans ADO.NET schema for PostgreSQL: query catalog, clustering, grain persistence, reminders.
-- Idempotent: every statement may run again on an already migrated database.
-- Identifiers are lowercase and unquoted because Orleans reads the catalog with an unquoted
-- `SELECT QueryKey, QueryText FROM OrleansQuery`, which PostgreSQL folds to lowercase.

CREATE TABLE IF NOT EXISTS orleansquery
(
    querykey  text NOT NULL PRIMARY KEY,
    querytext text NOT NULL
);

-- ---------------------------------------------------------------------------------------------
-- Clustering
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS orleansmembershipversiontable
(
    deploymentid text        NOT NULL PRIMARY KEY,
    updatedon    timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 0 CHECK (version >= 0)
);

CREATE TABLE IF NOT EXISTS orleansmembershiptable
(
    deploymentid text        NOT NULL REFERENCES orleansmembershipversiontable (deploymentid) ON DELETE CASCADE,
    address      text        NOT NULL,
    port         integer     NOT NULL,
    generation   integer     NOT NULL,
    siloname     text        NOT NULL,
    hostname     text        NOT NULL,
    status       integer     NOT NULL,
    proxyport    integer     NOT NULL DEFAULT 0,
    suspecttimes text,
    starttime    timestamptz NOT NULL,
    iamalivetime timestamptz NOT NULL,
    PRIMARY KEY (deploymentid, address, port, generation)
);

-- Membership writes are compare-and-swap on the cluster's version row. The version row is locked
-- first so that every membership write of a cluster is serialised, then checked; nothing is
-- written unless the expected version matches. Versions never wrap: Orleans rejects ETags that are
-- not non-negative Int32, so the maximum refuses further writes instead.
CREATE OR REPLACE FUNCTION orleans_membership_insert(
    p_deploymentid text, p_address text, p_port integer, p_generation integer,
    p_siloname text, p_hostname text, p_status integer, p_proxyport integer,
    p_starttime timestamptz, p_iamalivetime timestamptz, p_version integer)
    RETURNS boolean
    LANGUAGE plpgsql
AS $fn$
DECLARE
    current_version integer;
BEGIN
    IF p_version IS NULL OR p_version < 0 OR p_version >= 2147483647 THEN
        RETURN false;
    END IF;

    SELECT v.version INTO current_version
    FROM orleansmembershipversiontable v
    WHERE v.deploymentid = p_deploymentid
    FOR UPDATE;

    IF current_version IS DISTINCT FROM p_version THEN
        RETURN false;
    END IF;

    IF EXISTS (SELECT 1
               FROM orleansmembershiptable m
               WHERE m.deploymentid = p_deploymentid AND m.address = p_address
                 AND m.port = p_port AND m.generation = p_generation) THEN
        RETURN false;
    END IF;

    INSERT INTO orleansmembershiptable
        (deploymentid, address, port, generation, siloname, hostname, status, proxyport,
         starttime, iamalivetime)
    VALUES (p_deploymentid, p_address, p_port, p_generation, p_siloname, p_hostname, p_status,
            coalesce(p_proxyport, 0), p_starttime, p_iamalivetime);

    UPDATE orleansmembershipversiontable
    SET version = p_version + 1, updatedon = now()
    WHERE deploymentid = p_deploymentid;

    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION orleans_membership_update(
    p_deploymentid text, p_address text, p_port integer, p_generation integer,
    p_status integer, p_suspecttimes text, p_iamalivetime timestamptz, p_version integer)
    RETURNS boolean
    LANGUAGE plpgsql
AS $fn$
DECLARE
    current_version integer;
BEGIN
    IF p_version IS NULL OR p_version < 0 OR p_version >= 2147483647 THEN
        RETURN false;
    END IF;

    SELECT v.version INTO current_version
    FROM orleansmembershipversiontable v
    WHERE v.deploymentid = p_deploymentid
    FOR UPDATE;

    IF current_version IS DISTINCT FROM p_version THEN
        RETURN false;
    END IF;

    UPDATE orleansmembershiptable
    SET status = p_status, suspecttimes = p_suspecttimes, iamalivetime = p_iamalivetime
    WHERE deploymentid = p_deploymentid AND address = p_address
      AND port = p_port AND generation = p_generation;

    -- Nothing has been written yet when the member is missing, so returning false undoes nothing.
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE orleansmembershipversiontable
    SET version = p_version + 1, updatedon = now()
    WHERE deploymentid = p_deploymentid;

    RETURN true;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Grain persistence
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS orleansstorage
(
    grainidhash            integer     NOT NULL,
    grainidn0              bigint      NOT NULL,
    grainidn1              bigint      NOT NULL,
    graintypehash          integer     NOT NULL,
    graintypestring        text        NOT NULL,
    grainidextensionstring text,
    serviceid              text        NOT NULL,
    payloadbinary          bytea,
    modifiedon             timestamptz NOT NULL DEFAULT now(),
    version                integer     NOT NULL
);

-- One row per full identity, so that concurrent first writes cannot create duplicates (which would
-- make every later read throw). The key extension is hashed because a btree entry is limited to
-- about 2.7 kB and string grain keys can be longer; NULLS NOT DISTINCT makes a NULL extension
-- (integer and Guid keys) count as one value.
CREATE UNIQUE INDEX IF NOT EXISTS orleansstorage_identity_key
    ON orleansstorage (grainidn0, grainidn1, graintypestring, serviceid, md5(grainidextensionstring))
    NULLS NOT DISTINCT;

CREATE INDEX IF NOT EXISTS orleansstorage_hash_idx
    ON orleansstorage (grainidhash, graintypehash);

-- ---------------------------------------------------------------------------------------------
-- Reminders
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS orleansreminderstable
(
    serviceid    text        NOT NULL,
    grainid      text        NOT NULL,
    remindername text        NOT NULL,
    starttime    timestamptz NOT NULL,
    period       bigint      NOT NULL,
    grainhash    integer     NOT NULL,
    version      integer     NOT NULL,
    PRIMARY KEY (serviceid, grainid, remindername)
);

CREATE INDEX IF NOT EXISTS orleansreminderstable_hash_idx
    ON orleansreminderstable (serviceid, grainhash);

-- ---------------------------------------------------------------------------------------------
-- Query catalog
-- ---------------------------------------------------------------------------------------------

INSERT INTO orleansquery (querykey, querytext)
VALUES
-- Every silo calls this at start; ON CONFLICT makes the race between silos harmless.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleansmembershipversiontable (deploymentid)
    VALUES (@DeploymentId)
    ON CONFLICT (deploymentid) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM created) AS created;
$q$),

-- The version and the members come from one snapshot. With no matching member the LEFT JOIN yields
-- a single row whose member columns (StartTime included) are NULL, which Orleans reads as "no members".
('MembershipReadRowKey', $q$
SELECT v.version, m.address, m.port, m.generation, m.siloname, m.hostname, m.status, m.proxyport,
       m.suspecttimes, m.starttime, m.iamalivetime
FROM orleansmembershipversiontable v
LEFT JOIN orleansmembershiptable m
       ON m.deploymentid = v.deploymentid
      AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deploymentid = @DeploymentId;
$q$),

('MembershipReadAllKey', $q$
SELECT v.version, m.address, m.port, m.generation, m.siloname, m.hostname, m.status, m.proxyport,
       m.suspecttimes, m.starttime, m.iamalivetime
FROM orleansmembershipversiontable v
LEFT JOIN orleansmembershiptable m ON m.deploymentid = v.deploymentid
WHERE v.deploymentid = @DeploymentId
ORDER BY m.address, m.port, m.generation;
$q$),

('InsertMembershipKey', $q$
SELECT orleans_membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
                                 @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version) AS inserted;
$q$),

('UpdateMembershipKey', $q$
SELECT orleans_membership_update(@DeploymentId, @Address, @Port, @Generation, @Status, @SuspectTimes,
                                 @IAmAliveTime, @Version) AS updated;
$q$),

-- Heartbeat: a blind write that never touches the version.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleansmembershiptable
SET iamalivetime = @IAmAliveTime
WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation;
$q$),

-- Members go with their version row (ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleansmembershipversiontable
WHERE deploymentid = @DeploymentId;
$q$),

-- Orleans binds no freshness cutoff here, so the database clock decides: a silo publishes its
-- IAmAliveTime every 5 minutes by default and is presumed dead after two missed publications, so
-- Active rows older than 10 minutes are left over from a crash and must not be handed to clients.
('GatewaysQueryKey', $q$
SELECT address, proxyport, generation
FROM orleansmembershiptable
WHERE deploymentid = @DeploymentId
  AND status = @Status
  AND proxyport > 0
  AND iamalivetime > now() - interval '10 minutes';
$q$),

('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleansmembershiptable
WHERE deploymentid = @DeploymentId
  AND status = 6
  AND iamalivetime < @IAmAliveTime;
$q$),

-- Deletes one defunct row only if it is still exactly what the cleanup agent read.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleansmembershiptable
WHERE deploymentid = @DeploymentId
  AND address = @Address AND port = @Port AND generation = @Generation
  AND status = 6
  AND starttime = @StartTime
  AND iamalivetime = @IAmAliveTime
  AND coalesce(suspecttimes, '') = coalesce(@SuspectTimes, '');
$q$),

-- Persistence versions only need to differ from the previous one, so they wrap at Int32.MaxValue.
-- A NULL GrainStateVersion means "no row known": insert, and a concurrent insert loses with NULL.
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleansstorage
    SET payloadbinary = @PayloadBinary,
        modifiedon = now(),
        version = CASE WHEN version = 2147483647 THEN 0 ELSE version + 1 END
    WHERE @GrainStateVersion IS NOT NULL
      AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
      AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
      AND serviceid = @ServiceId
      AND version = @GrainStateVersion
    RETURNING version
), inserted AS (
    INSERT INTO orleansstorage
        (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring, grainidextensionstring,
         serviceid, payloadbinary, version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
           @GrainIdExtensionString, @ServiceId, @PayloadBinary, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT (SELECT version FROM updated UNION ALL SELECT version FROM inserted LIMIT 1) AS newgrainstateversion;
$q$),

('ReadFromStorageKey', $q$
SELECT payloadbinary, version
FROM orleansstorage
WHERE grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
  AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
  AND graintypestring = @GrainTypeString
  AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
  AND serviceid = @ServiceId;
$q$),

-- Clearing keeps a tombstone row (NULL payload) whose new version becomes the ETag. Clearing a
-- state that was never written creates the tombstone, so the next write has a row to update.
('ClearStorageKey', $q$
WITH updated AS (
    UPDATE orleansstorage
    SET payloadbinary = NULL,
        modifiedon = now(),
        version = CASE WHEN version = 2147483647 THEN 0 ELSE version + 1 END
    WHERE @GrainStateVersion IS NOT NULL
      AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
      AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
      AND serviceid = @ServiceId
      AND version = @GrainStateVersion
    RETURNING version
), inserted AS (
    INSERT INTO orleansstorage
        (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring, grainidextensionstring,
         serviceid, payloadbinary, version)
    SELECT @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
           @GrainIdExtensionString, @ServiceId, NULL, 1
    WHERE @GrainStateVersion IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT (SELECT version FROM updated UNION ALL SELECT version FROM inserted LIMIT 1) AS newgrainstateversion;
$q$),

-- Used with DeleteStateOnClear: the row goes away. The returned value only has to differ from the
-- old ETag; deleting a state that was never written succeeds as long as nobody wrote it meanwhile.
('DeleteStorageKey', $q$
WITH deleted AS (
    DELETE FROM orleansstorage
    WHERE @GrainStateVersion IS NOT NULL
      AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
      AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
      AND serviceid = @ServiceId
      AND version = @GrainStateVersion
    RETURNING version
)
SELECT CASE
           WHEN @GrainStateVersion IS NOT NULL THEN
               (SELECT CASE WHEN version = 2147483647 THEN 0 ELSE version + 1 END FROM deleted)
           WHEN NOT EXISTS (SELECT 1
                            FROM orleansstorage
                            WHERE grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
                              AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
                              AND graintypestring = @GrainTypeString
                              AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
                              AND serviceid = @ServiceId) THEN 0
       END AS newgrainstateversion;
$q$),

('ReadReminderRowsKey', $q$
SELECT grainid, remindername, starttime, period, version
FROM orleansreminderstable
WHERE serviceid = @ServiceId AND grainid = @GrainId;
$q$),

('ReadReminderRowKey', $q$
SELECT grainid, remindername, starttime, period, version
FROM orleansreminderstable
WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName;
$q$),

('ReadRangeRows1Key', $q$
SELECT grainid, remindername, starttime, period, version
FROM orleansreminderstable
WHERE serviceid = @ServiceId AND grainhash > @BeginHash AND grainhash <= @EndHash;
$q$),

-- The range wraps around the ring (Begin = End means the whole ring).
('ReadRangeRows2Key', $q$
SELECT grainid, remindername, starttime, period, version
FROM orleansreminderstable
WHERE serviceid = @ServiceId AND (grainhash > @BeginHash OR grainhash <= @EndHash);
$q$),

('UpsertReminderRowKey', $q$
INSERT INTO orleansreminderstable AS r
    (serviceid, grainid, remindername, starttime, period, grainhash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (serviceid, grainid, remindername) DO UPDATE
SET starttime = excluded.starttime,
    period = excluded.period,
    grainhash = excluded.grainhash,
    version = CASE WHEN r.version = 2147483647 THEN 0 ELSE r.version + 1 END
RETURNING r.version;
$q$),

('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleansreminderstable
    WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName
      AND version = @Version
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted) AS deleted;
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM orleansreminderstable
WHERE serviceid = @ServiceId;
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = excluded.querytext;
