using System.Data;
using AuroraNexus.Grains.Storage;
using Npgsql;

namespace AuroraNexus.Tests.Storage;

/// <summary>
/// Runs the catalog's query texts the way the Orleans ADO.NET providers do: looked up by key, with
/// parameters bound by bare name and typed by <see cref="DbType"/>.
/// </summary>
internal sealed class OrleansSql(NpgsqlDataSource ds)
{
    public static readonly IReadOnlyList<string> ClusteringKeys =
    [
        "GatewaysQueryKey", "MembershipReadRowKey", "MembershipReadAllKey", "InsertMembershipVersionKey",
        "UpdateIAmAlivetimeKey", "InsertMembershipKey", "UpdateMembershipKey", "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey",
    ];

    public static readonly IReadOnlyList<string> PersistenceKeys =
        ["WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey"];

    public static readonly IReadOnlyList<string> ReminderKeys =
    [
        "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
    ];

    public static IReadOnlyList<string> AllKeys => [.. ClusteringKeys, .. PersistenceKeys, .. ReminderKeys];

    public static string Script()
    {
        using var stream = typeof(MigrationRunner).Assembly.GetManifestResourceStream("sql/0001_orleans.sql")
            ?? throw new InvalidOperationException("sql/0001_orleans.sql is not embedded in the Grains assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static P Text(string name, string? value) => new(name, value, DbType.String);

    public static P Int(string name, int? value) => new(name, value, DbType.Int32);

    public static P Long(string name, long value) => new(name, value, DbType.Int64);

    public static P Bytes(string name, byte[]? value) => new(name, value, DbType.Binary);

    public static P Time(string name, DateTime value) => new(name, DateTime.SpecifyKind(value, DateTimeKind.Utc), DbType.DateTime);

    public async Task<List<Dictionary<string, object?>>> RunAsync(string key, params P[] parameters)
    {
        await using var connection = await ds.OpenConnectionAsync();
        string text;
        await using (var lookup = new NpgsqlCommand("SELECT querytext FROM orleansquery WHERE querykey = @key", connection))
        {
            lookup.Parameters.AddWithValue("key", key);
            text = (string)(await lookup.ExecuteScalarAsync() ?? throw new InvalidOperationException($"no query {key}"));
        }

        await using var command = connection.CreateCommand();
        command.CommandText = text;
        foreach (var p in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = p.Name;
            parameter.DbType = p.Type;
            parameter.Value = p.Value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        var rows = new List<Dictionary<string, object?>>();
        await using var reader = await command.ExecuteReaderAsync();
        do
        {
            while (await reader.ReadAsync())
            {
                var row = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                }

                rows.Add(row);
            }
        }
        while (await reader.NextResultAsync());

        return rows;
    }

    public async Task<object?> ScalarAsync(string key, params P[] parameters)
    {
        var rows = await RunAsync(key, parameters);
        return Assert.Single(rows).Values.First();
    }

    public async Task<object?> SqlAsync(string sql)
    {
        await using var command = ds.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    internal readonly record struct P(string Name, object? Value, DbType Type);
}
