using System.Collections.Immutable;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AuroraNexus.WebFront.Api;

public sealed record ThreadBody(
    string CallerApp, string UserId, string ThreadId, ImmutableArray<SectionRef> Sections, string? LastQuestion, int Version,
    DateTimeOffset UpdatedAt);

public sealed record QueryLogBody(
    Guid Id, string CallerApp, string UserId, string ThreadId, string Question, string RetrievalQuery, string Mode, string Answer,
    bool FollowupResolved, string? FollowupSectionId, string? FollowupRefType, ImmutableArray<CitationRef> Citations,
    string? Model, string? SuiviStatus, string? ErrorCode, long LatencyMs, DateTimeOffset CreatedAt);

public sealed record CitationRef(Guid DocumentId, string Filename, int ChunkIndex, double Score);

/// <summary>What the troubleshooting guide reads by hand in thread_state and queries_log, for the caller's tenant only.</summary>
public static class AdminConversationApi
{
    public static void MapAdminConversationApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/admin").RequireAuthorization("admin");
        group.MapGet("/threads", static async (
            HttpContext http, ConversationRepository repo, [FromQuery(Name = "caller_app")] string? callerApp,
            [FromQuery(Name = "thread_id")] string? threadId, int? limit, CancellationToken ct) =>
        {
            var rows = await repo.ListThreadsAsync(Caller.From(http.User).TenantId, Blank(callerApp), Blank(threadId),
                Math.Clamp(limit ?? 100, 1, 1000), ct);
            return TypedResults.Ok(rows.Select(ToBody).ToImmutableArray());
        });

        group.MapGet("/threads/{callerApp}/{threadId}", static async Task<Results<Ok<ImmutableArray<ThreadBody>>, ProblemHttpResult>> (
            string callerApp, string threadId, HttpContext http, ConversationRepository repo, CancellationToken ct) =>
        {
            var rows = await repo.ListThreadsAsync(Caller.From(http.User).TenantId, callerApp, threadId, 100, ct);
            return rows.Count == 0
                ? Problems.Create(404, "thread_not_found", $"No thread '{threadId}' of caller app '{callerApp}' in your tenant.")
                : TypedResults.Ok(rows.Select(ToBody).ToImmutableArray());
        });

        group.MapGet("/queries", static async Task<Results<Ok<ImmutableArray<QueryLogBody>>, ProblemHttpResult>> (
            HttpContext http, ConversationRepository repo, [FromQuery(Name = "caller_app")] string? callerApp,
            [FromQuery(Name = "thread_id")] string? threadId, DateTimeOffset? from, DateTimeOffset? to,
            [FromQuery(Name = "followup_resolved")] bool? followUpResolved, int? limit, CancellationToken ct) =>
        {
            var filter = new QueryLogFilter(Blank(callerApp), Blank(threadId), from, to, followUpResolved, Math.Clamp(limit ?? 100, 1, 1000));
            var rows = await repo.ListQueriesAsync(Caller.From(http.User).TenantId, filter, null, ct);
            return TypedResults.Ok(rows.Select(ToBody).ToImmutableArray());
        });

        group.MapGet("/queries/{id:guid}", static async Task<Results<Ok<QueryLogBody>, ProblemHttpResult>> (
            Guid id, HttpContext http, ConversationRepository repo, CancellationToken ct) =>
        {
            var rows = await repo.ListQueriesAsync(Caller.From(http.User).TenantId, new QueryLogFilter(Limit: 1), id, ct);
            return rows.Count == 1
                ? TypedResults.Ok(ToBody(rows[0]))
                : Problems.Create(404, "query_not_found", $"No query {id} in your tenant.");
        });
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static ThreadBody ToBody(ThreadSummary t) => new(
        t.CallerApp, t.UserId, t.ThreadId, [.. t.Outline.Select(s => new SectionRef(s.Id, s.Title))], t.LastQuestion, t.Version, t.UpdatedAt);

    private static QueryLogBody ToBody(QueryLogRow row)
    {
        var e = row.Entry;
        return new QueryLogBody(e.Id, e.CallerApp, e.UserId, e.ThreadId, e.Question, e.RetrievalQuery, e.Mode, e.Answer,
            e.FollowUpResolved, e.FollowUpSectionId, e.FollowUpRefType,
            [.. e.Citations.Select(c => new CitationRef(c.DocumentId, c.FileName, c.ChunkIndex, c.Score))],
            e.Model, e.SuiviStatus, e.ErrorCode, e.LatencyMs, row.CreatedAt);
    }
}
