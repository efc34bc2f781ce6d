using System.Collections.Immutable;
using System.Text.Json;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Operations;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record QueryOptionsBody(int? TopK);

public sealed record QueryBody(string? Question, string? CallerApp, string? ThreadId, QueryOptionsBody? Options);

public sealed record CitationBody(Guid DocumentId, string Filename, int ChunkIndex, double Score, string Snippet);

public sealed record FollowUpBody(bool Resolved, string? SectionId, string? RefType, string? Reason);

public sealed record QueryResponse(
    Guid QueryId, string ThreadId, string Mode, string Answer, ImmutableArray<SectionRef> Sections, FollowUpBody? Followup,
    ImmutableArray<SectionRef>? Choices, ImmutableArray<CitationBody> Citations, string? Model, long LatencyMs,
    string RetrievalQuery, string SuiviStatus, bool Cached);

public static partial class QueryApi
{
    public const int MaxQuestionLength = 4000;

    /// <summary>Shorter than the thread grain's response timeout (5 min), so that a call given up is also cancelled.</summary>
    public static readonly TimeSpan AskDeadline = TimeSpan.FromMinutes(4.5);

    public static void MapQueryApi(this WebApplication app) =>
        app.MapPost("/api/query", static async Task<Results<Ok<QueryResponse>, EmptyHttpResult, ProblemHttpResult>> (
            QueryBody? body, HttpContext http, IGrainFactory grains, ILoggerFactory logs, CancellationToken ct) =>
        {
            var caller = Caller.From(http.User);
            if (Prepare(caller, body, out var key, out var request) is { } problem)
            {
                return problem;
            }

            var grain = grains.GetGrain<IThreadGrain>(key.ToString());
            if (WantsEventStream(http))
            {
                return await StreamAsync(http, grain, request, logs.CreateLogger("AuroraNexus.Query"), caller.TenantId, ct);
            }

            QueryResponse response;
            try
            {
                response = await AskAsync(grain, request, ct);
            }
            catch (LlmException ex)
            {
                // An expected outcome with a stable code, not a crash: one warning line, no stack trace.
                LogLlmFailure(logs.CreateLogger("AuroraNexus.Query"), caller.TenantId, ex.ErrorCode, ex.Message);
                NexusMetrics.QueryAnswered(caller.TenantId, "error");
                return Problems.FromLlm(http, ex, request.QueryId);
            }

            NexusMetrics.QueryAnswered(caller.TenantId, response.Mode);
            return TypedResults.Ok(response);
        }).RequireAuthorization();

    /// <summary>Asks the thread and waits for the whole answer, given up (and so cancelled) at <see cref="AskDeadline"/>.</summary>
    public static async Task<QueryResponse> AskAsync(IThreadGrain grain, QueryRequest request, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(AskDeadline);
        return ToResponse(await grain.AskAsync(request, deadline.Token));
    }

    /// <summary>The problem with a question, or null and the thread and request it goes to (the API's and the backoffice's check).</summary>
    public static ProblemHttpResult? Prepare(Caller caller, QueryBody? body, out ThreadKey key, out QueryRequest request)
    {
        key = default;
        request = default!;
        var question = body?.Question?.Trim();
        if (string.IsNullOrEmpty(question))
        {
            return Problems.Create(400, "question_required", "Send a non-empty \"question\".");
        }

        if (!question.Any(char.IsLetterOrDigit))
        {
            return Problems.Create(400, "question_required", "The question has no words (only punctuation or symbols); ask with words.");
        }

        if (question.Contains('\0', StringComparison.Ordinal))
        {
            return Problems.Create(400, "invalid_characters", "The question contains a NUL character (\\u0000); remove it.");
        }

        if (question.Length > MaxQuestionLength)
        {
            return Problems.Create(400, "question_too_long",
                $"The question has {question.Length} characters; the limit is {MaxQuestionLength}. Shorten it.");
        }

        if (Caller.ValidateCallerApp(body!.CallerApp) is { } appError)
        {
            return Problems.Create(400, "caller_app_required", appError);
        }

        if (body.Options?.TopK is < 1 or > 50)
        {
            return Problems.Create(400, "top_k_invalid",
                "options.top_k must be between 1 and 50 (values below 4 are raised to 4, so that every answer has its outline).");
        }

        var threadId = string.IsNullOrWhiteSpace(body.ThreadId) ? Guid.NewGuid().ToString("N") : body.ThreadId.Trim();
        if (threadId.Length > 200 || threadId.Any(char.IsControl))
        {
            return Problems.Create(400, "thread_id_invalid", "thread_id must be at most 200 characters, without control characters.");
        }

        key = new ThreadKey(caller.TenantId, body.CallerApp!.Trim(), caller.UserId, threadId);
        request = new QueryRequest(question, body.Options?.TopK, Guid.NewGuid());
        return null;
    }

    private static QueryResponse ToResponse(QueryResult r) => new(
        r.QueryId, r.ThreadId, r.Mode, r.Answer, r.Sections,
        r.FollowUp is { } f ? new FollowUpBody(f.Resolved, f.SectionId, f.RefType, f.Reason) : null,
        r.Choices.IsDefaultOrEmpty ? null : r.Choices,
        [.. r.Citations.Select(c => new CitationBody(c.DocumentId, c.FileName, c.ChunkIndex, c.Score, c.Snippet))],
        r.Model, r.LatencyMs, r.RetrievalQuery, r.SuiviStatus, r.Cached);

    private static bool WantsEventStream(HttpContext http) =>
        http.Request.Headers.Accept.Any(a => a?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>
    /// Server-sent events as the thread grain yields them: <c>delta</c> pieces, <c>citations</c>, then <c>done</c> with the
    /// full response (whose <c>answer</c> is authoritative: a repaired SUIVI block may differ from the streamed text); or
    /// <c>error</c> with a stable code when the answer broke off. A failure before the first piece is a plain problem.
    /// </summary>
    private static async Task<Results<Ok<QueryResponse>, EmptyHttpResult, ProblemHttpResult>> StreamAsync(
        HttpContext http, IThreadGrain grain, QueryRequest request, ILogger logger, string tenant, CancellationToken ct)
    {
        var json = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        await using var events = grain.AskStreamAsync(request, ct).GetAsyncEnumerator(ct);
        QueryEvent? first;
        try
        {
            first = await events.MoveNextAsync() ? events.Current : null;
        }
        catch (LlmException ex)
        {
            LogLlmFailure(logger, tenant, ex.ErrorCode, ex.Message);
            return Problems.FromLlm(http, ex, request.QueryId);
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        for (var e = first; e is not null; e = await events.MoveNextAsync() ? events.Current : null)
        {
            switch (e.Kind)
            {
                case QueryEventKinds.Delta:
                    await Send("delta", new { text = e.Text });
                    break;
                case QueryEventKinds.Citations:
                    await Send("citations", ToResponse(e.Result!).Citations);
                    break;
                case QueryEventKinds.Done:
                    NexusMetrics.QueryAnswered(tenant, e.Result!.Mode);
                    await Send("done", ToResponse(e.Result!));
                    break;
                case QueryEventKinds.Error:
                    LogLlmFailure(logger, tenant, e.ErrorCode ?? "error", e.Text ?? "");
                    NexusMetrics.QueryAnswered(tenant, "error");
                    await Send("error", new { code = e.ErrorCode, message = e.Text, query_id = request.QueryId });
                    break;
            }
        }

        return TypedResults.Empty;

        async Task Send(string name, object payload)
        {
            await http.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(payload, json)}\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Query of tenant {Tenant} failed with {Code}: {Detail}")]
    private static partial void LogLlmFailure(ILogger logger, string tenant, string code, string detail);
}
