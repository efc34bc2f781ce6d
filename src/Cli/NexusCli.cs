using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AuroraNexus.Cli;

/// <summary>
/// <c>nexus ingest FOLDER</c>: uploads every file of a folder in batches, follows each batch's events with a progress
/// bar, and ends with one line per file. Exit code 0 when every file is indexed or a duplicate, 1 when one failed,
/// 2 when the command could not run (usage, login, server unreachable).
/// </summary>
public static class NexusCli
{
    public const string Usage =
        """
        usage: nexus ingest FOLDER [--url URL] [--caller-app APP] [--batch-size N] [--max-request-bytes N] [--replace]

          Uploads every file under FOLDER (sub-folders included, hidden files left out), follows the batches and prints
          a summary table. Exit code 0: all indexed or duplicate; 1: at least one failed; 2: the command could not run.

          --url                NEXUS_URL, default http://127.0.0.1:18500
          --caller-app         NEXUS_CALLER_APP, default nexus-cli
          --batch-size         files per request, default 50
          --max-request-bytes  bytes per request, default 50 MB (keep it at or under the server's NEXUS_MAX_UPLOAD_BYTES)
          --replace            upload as new versions: same-name or same-content documents are replaced
                               (without it, a file whose content is already there is a duplicate, not indexed again)
          credentials          NEXUS_TOKEN (a bearer token), or NEXUS_EMAIL and NEXUS_PASSWORD
        """;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter progress, Func<string, string?> environment, bool interactive = false,
        HttpMessageHandler? handler = null, CancellationToken ct = default)
    {
        if (args.Length < 2 || args[0] != "ingest")
        {
            await output.WriteLineAsync(Usage);
            return 2;
        }

        IngestOptions options;
        try
        {
            options = IngestOptions.Parse(args[1..], environment);
        }
        catch (ArgumentException ex)
        {
            await output.WriteLineAsync($"error: {ex.Message}\n\n{Usage}");
            return 2;
        }

        if (!Directory.Exists(options.Folder))
        {
            await output.WriteLineAsync($"error: folder '{options.Folder}' does not exist.");
            return 2;
        }

        var files = Directory.EnumerateFiles(options.Folder, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(options.Folder, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            await output.WriteLineAsync($"error: folder '{options.Folder}' holds no file to upload.");
            return 2;
        }

        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = options.Url;
        http.Timeout = Timeout.InfiniteTimeSpan;
        try
        {
            var token = options.Token ?? await LoginAsync(http, options, ct);
            if (token is null)
            {
                await output.WriteLineAsync("error: no credentials: set NEXUS_TOKEN, or NEXUS_EMAIL and NEXUS_PASSWORD.");
                return 2;
            }

            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var run = new IngestRun(http, options, files, progress, interactive);
            var results = await run.ExecuteAsync(ct);
            await WriteSummaryAsync(output, results, options.Replace);
            return results.Any(r => r.Status == "failed") ? 1 : 0;
        }
        catch (CliException ex)
        {
            await progress.WriteLineAsync();
            await output.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }
        catch (HttpRequestException ex)
        {
            await progress.WriteLineAsync();
            await output.WriteLineAsync($"error: {options.Url} did not answer ({ex.Message}); check NEXUS_URL and that the server runs.");
            return 2;
        }
    }

    private static async Task<string?> LoginAsync(HttpClient http, IngestOptions options, CancellationToken ct)
    {
        if (options.Email is null || options.Password is null)
        {
            return null;
        }

        var response = await http.PostAsJsonAsync("/api/auth/login", new { email = options.Email, password = options.Password }, ct);
        var body = await ReadJsonAsync(response, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new CliException($"login as {options.Email} refused ({(int)response.StatusCode} {Code(body)}): {Detail(body)}");
        }

        return body?["access_token"]?.GetValue<string>();
    }

    internal static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            return text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static string Code(JsonNode? problem) => problem?["code"]?.GetValue<string>() ?? "error";

    internal static string Detail(JsonNode? problem) => problem?["detail"]?.GetValue<string>() ?? "no detail";

    private static async Task WriteSummaryAsync(TextWriter output, IReadOnlyList<FileResult> results, bool replaced)
    {
        string[] header = ["file", "status", "chunks", "error"];
        var rows = results.Select(r => new[]
        {
            r.File, r.Status, r.Chunks.ToString(CultureInfo.InvariantCulture), r.ErrorCode ?? "",
        }).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(i => rows.Select(r => r[i].Length).Append(header[i].Length).Max()).ToArray();
        await output.WriteLineAsync();
        await output.WriteLineAsync(Row(header));
        await output.WriteLineAsync(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            await output.WriteLineAsync(Row(row));
        }

        await output.WriteLineAsync();
        var counts = results.GroupBy(r => r.Status).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
        await output.WriteLineAsync($"{results.Count} files: {string.Join(", ", counts)}");
        foreach (var failed in results.Where(r => r.Status == "failed" && r.Error is not null))
        {
            await output.WriteLineAsync($"  {failed.File}: {failed.Error}");
        }

        // The server names the document that already has the content of each duplicate.
        var duplicates = results.Where(r => r.Status == "duplicate").ToList();
        foreach (var duplicate in duplicates.Where(r => r.Error is not null))
        {
            await output.WriteLineAsync($"  {duplicate.File}: {duplicate.Error}");
        }

        if (duplicates.Count > 0)
        {
            await output.WriteLineAsync(replaced
                ? $"{duplicates.Count} duplicate(s): the same content as another file of the same upload, indexed once."
                : $"{duplicates.Count} duplicate(s) not indexed again: to index them as new versions (replacing the documents named above), run again with --replace.");
        }

        string Row(string[] cells) => string.Join("  ", cells.Select((c, i) => i == 2 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();
    }
}

/// <summary>A stop of the whole command, with a message for the user.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>What happened to one file of the folder.</summary>
public sealed record FileResult(string File, string Status, int Chunks, string? ErrorCode, string? Error);

public sealed record IngestOptions(
    string Folder, Uri Url, string CallerApp, int BatchSize, long MaxRequestBytes, bool Replace, string? Token, string? Email,
    string? Password)
{
    public static IngestOptions Parse(string[] args, Func<string, string?> environment)
    {
        string? folder = null;
        var url = environment("NEXUS_URL") ?? "http://127.0.0.1:18500";
        var app = environment("NEXUS_CALLER_APP") ?? "nexus-cli";
        var batchSize = 50;
        var maxBytes = 50L * 1024 * 1024;
        var replace = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--url":
                    url = Value(args, ref i);
                    break;
                case "--caller-app":
                    app = Value(args, ref i);
                    break;
                case "--batch-size":
                    batchSize = int.TryParse(Value(args, ref i), CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000
                        ? n
                        : throw new ArgumentException("--batch-size takes a number from 1 to 1000");
                    break;
                case "--max-request-bytes":
                    maxBytes = long.TryParse(Value(args, ref i), CultureInfo.InvariantCulture, out var b) && b >= 1024
                        ? b
                        : throw new ArgumentException("--max-request-bytes takes a number of bytes, at least 1024");
                    break;
                case "--replace":
                    replace = true;
                    break;
                case var other when other.StartsWith("--", StringComparison.Ordinal):
                    throw new ArgumentException($"unknown option {other}");
                default:
                    folder = folder is null ? args[i] : throw new ArgumentException($"one folder only ('{folder}' and '{args[i]}' given)");
                    break;
            }
        }

        if (folder is null)
        {
            throw new ArgumentException("the folder to upload is missing");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{url}' is not an http(s) address (NEXUS_URL or --url)");
        }

        return new IngestOptions(Path.GetFullPath(folder), uri, app, batchSize, maxBytes, replace,
            Blank(environment("NEXUS_TOKEN")), Blank(environment("NEXUS_EMAIL")), Blank(environment("NEXUS_PASSWORD")));
    }

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>One run of <c>nexus ingest</c>: uploads batch after batch and follows each to its end.</summary>
internal sealed class IngestRun(HttpClient http, IngestOptions options, IReadOnlyList<string> files, TextWriter progress, bool interactive)
{
    private const int BarWidth = 30;
    private readonly List<FileResult> _results = [];
    private int _done;
    private string _lastBar = "";

    public async Task<IReadOnlyList<FileResult>> ExecuteAsync(CancellationToken ct)
    {
        // Sent, a file over the request limit would only be refused (413) after its first bytes travelled.
        foreach (var file in files.Where(f => new FileInfo(f).Length > options.MaxRequestBytes))
        {
            await RecordAsync(new FileResult(Relative(file), "failed", 0, "too_large",
                $"{new FileInfo(file).Length} bytes, more than one request may carry ({options.MaxRequestBytes} bytes, --max-request-bytes; the server's NEXUS_MAX_UPLOAD_BYTES); it was not sent"));
        }

        foreach (var batch in Batches())
        {
            await UploadAsync(batch, ct);
        }

        await progress.WriteLineAsync();
        return _results;
    }

    /// <summary>Up to BatchSize files and MaxRequestBytes per request.</summary>
    private IEnumerable<List<string>> Batches()
    {
        var batch = new List<string>();
        long bytes = 0;
        foreach (var file in files)
        {
            var size = new FileInfo(file).Length;
            if (size > options.MaxRequestBytes)
            {
                continue;
            }

            if (batch.Count > 0 && (batch.Count >= options.BatchSize || bytes + size > options.MaxRequestBytes))
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(file);
            bytes += size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private async Task UploadAsync(List<string> batch, CancellationToken ct)
    {
        var streams = new List<Stream>();
        try
        {
            using var form = new MultipartFormDataContent { { new StringContent(options.CallerApp), "caller_app" } };
            if (options.Replace)
            {
                form.Add(new StringContent("true"), "replace");
            }

            foreach (var file in batch)
            {
                var stream = File.OpenRead(file);
                streams.Add(stream);
                form.Add(new StreamContent(stream), "files", Path.GetFileName(file));
            }

            using var response = await http.PostAsync("/api/ingest", form, ct);
            var body = await NexusCli.ReadJsonAsync(response, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new CliException($"the server refused the credentials ({NexusCli.Code(body)}): {NexusCli.Detail(body)}");
            }

            if (response.StatusCode != HttpStatusCode.Accepted || body?["batch_id"] is null)
            {
                // The whole request was refused (413 too_large, 400...): each of its files carries the reason.
                foreach (var file in batch)
                {
                    await RecordAsync(new FileResult(Relative(file), "failed", 0, NexusCli.Code(body), NexusCli.Detail(body)));
                }

                return;
            }

            await FollowAsync(body, batch, ct);
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }

    private async Task FollowAsync(JsonNode accepted, List<string> batch, CancellationToken ct)
    {
        var batchId = accepted["batch_id"]!.GetValue<string>();
        // Documents come back in upload order; their names may have been made safe by the server.
        var names = new Dictionary<string, string>();
        var documents = accepted["documents"]!.AsArray();
        for (var i = 0; i < documents.Count; i++)
        {
            names[documents[i]!["id"]!.GetValue<string>()] = i < batch.Count ? Relative(batch[i]) : documents[i]!["filename"]!.GetValue<string>();
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/ingest/batches/{batchId}/events");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new CliException($"the events of batch {batchId} could not be followed ({(int)response.StatusCode}).");
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? eventName = null;
        var terminal = new HashSet<string>();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line["event: ".Length..];
                continue;
            }

            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            var data = JsonNode.Parse(line["data: ".Length..])!;
            if (eventName == "progress")
            {
                var doc = data["document"]!;
                var status = doc["status"]!.GetValue<string>();
                if (status is "indexed" or "duplicate" or "failed" && terminal.Add(doc["id"]!.GetValue<string>()))
                {
                    _done++;
                }

                await DrawAsync();
            }
            else if (eventName == "done")
            {
                foreach (var doc in data["documents"]!.AsArray())
                {
                    var id = doc!["id"]!.GetValue<string>();
                    await RecordAsync(new FileResult(names.GetValueOrDefault(id) ?? doc["filename"]!.GetValue<string>(), doc["status"]!.GetValue<string>(),
                        doc["chunks"]!.GetValue<int>(), doc["error_code"]?.GetValue<string>(), doc["error"]?.GetValue<string>()), count: !terminal.Contains(id));
                }

                return;
            }
        }

        throw new CliException($"the event stream of batch {batchId} ended before the batch did; see GET /api/ingest/batches/{batchId}.");
    }

    private async Task RecordAsync(FileResult result, bool count = true)
    {
        _results.Add(result);
        if (count)
        {
            _done++;
        }

        await DrawAsync();
    }

    private async Task DrawAsync()
    {
        var filled = files.Count == 0 ? BarWidth : _done * BarWidth / files.Count;
        var bar = $"[{new string('#', filled)}{new string('.', BarWidth - filled)}] {_done}/{files.Count} files";
        if (bar == _lastBar)
        {
            return;
        }

        _lastBar = bar;
        // On a terminal the bar redraws in place; into a log it is one line per step.
        await progress.WriteAsync(interactive ? "\r" + bar : bar + "\n");
    }

    private string Relative(string file) => Path.GetRelativePath(options.Folder, file).Replace('\\', '/');
}
