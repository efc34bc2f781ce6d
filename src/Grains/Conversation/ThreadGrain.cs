using System.Collections.Immutable;
using System.Diagnostics;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// One conversation. Calls are serialised (not reentrant) so that a follow-up always sees the outline of the answer
/// before it. The outline lives in <c>thread_state</c>, the table the troubleshooting guide inspects.
/// </summary>
public sealed partial class ThreadGrain(
    ConversationRepository conversations,
    RetrievalService retrieval,
    IAnswerWriter writer,
    ILogger<ThreadGrain> logger) : Grain, IThreadGrain
{
    private const int MinPassages = 4;

    private ThreadKey _key;
    private ThreadStateRow? _state;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = ThreadKey.Parse(this.GetPrimaryKeyString());
        _state = await conversations.LoadThreadAsync(_key, cancellationToken);
    }

    public async Task<QueryResult> AskAsync(QueryRequest request, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var settings = await GrainFactory.GetGrain<ITenantGrain>(_key.TenantId).GetSettingsAsync(cancellationToken);
        var outline = _state?.Outline ?? [];
        var resolution = FollowUpResolver.Resolve(request.Question, outline);
        // At least 4 passages: a deliverable answer carries a 4-to-8-section outline, each section grounded in a passage.
        var topK = Math.Clamp(request.TopK ?? settings.RetrieveK, MinPassages, 50);

        QueryResult result;
        if (resolution.Kind == FollowUpKind.NeedsChoice)
        {
            result = Clarify(request, outline, resolution, clock);
        }
        else
        {
            var section = resolution.Kind == FollowUpKind.Resolved ? outline.First(s => s.Id == resolution.SectionId) : null;
            var retrievalQuery = section?.Title ?? request.Question;
            var passages = await retrieval.RetrieveAsync(_key.TenantId, retrievalQuery, settings, topK,
                section?.ChunkIds ?? [], cancellationToken);
            try
            {
                result = await AnswerAsync(request, retrievalQuery, passages, section, resolution, settings, clock, cancellationToken);
            }
            catch (LlmException ex)
            {
                // The provider's verdict goes to the log row and to the caller; the outline stays as it was.
                await conversations.LogQueryAsync(new QueryLogEntry(
                    request.QueryId, _key.TenantId, _key.CallerApp, _key.UserId, _key.ThreadId, request.Question, retrievalQuery,
                    AnswerModes.Llm, "", resolution.Kind == FollowUpKind.Resolved, resolution.SectionId, resolution.RefType, [],
                    null, null, ex.ErrorCode, clock.ElapsedMilliseconds), cancellationToken);
                throw;
            }
        }

        await conversations.LogQueryAsync(new QueryLogEntry(
            result.QueryId, _key.TenantId, _key.CallerApp, _key.UserId, _key.ThreadId, request.Question, result.RetrievalQuery,
            result.Mode, result.Answer, result.FollowUp?.Resolved ?? false, result.FollowUp?.SectionId, result.FollowUp?.RefType,
            result.Citations, result.Model, result.SuiviStatus, null, result.LatencyMs), cancellationToken);
        LogAnswered(logger, _key.TenantId, _key.CallerApp, result.QueryId, result.Mode, result.LatencyMs);
        return result;
    }

    private async Task<QueryResult> AnswerAsync(
        QueryRequest request, string retrievalQuery, IReadOnlyList<Passage> passages, OutlineSection? section,
        FollowUpResolution resolution, TenantSettings settings, Stopwatch clock, CancellationToken ct)
    {
        var written = passages.Count == 0
            ? null
            : await writer.WriteAsync(_key.TenantId, request.Question, passages, section?.Title, settings, ct);

        string text;
        string mode;
        ImmutableArray<OutlineSection> sections;
        string suiviStatus;
        if (written is null)
        {
            var extractive = section is null
                ? ExtractiveComposer.Compose(request.Question, passages)
                : ExtractiveComposer.ComposeDetail(section, passages, request.Question);
            text = extractive.Text;
            mode = AnswerModes.Extractive;
            sections = [.. extractive.Sections];
            suiviStatus = sections.Length > 0 ? "compliant" : "none";
        }
        else
        {
            var parsed = SuiviBlock.Parse(written.Text);
            mode = AnswerModes.Llm;
            suiviStatus = parsed.Status.ToString().ToLowerInvariant();
            ImmutableArray<long> grounding = [.. passages.Select(p => p.ChunkId)];
            sections = parsed.Status == SuiviCompliance.NonCompliant
                ? []
                : [.. parsed.Sections.Select(s => new OutlineSection(s.Id, s.Title, grounding))];
            text = parsed.Status == SuiviCompliance.NonCompliant ? written.Text : SuiviBlock.Normalize(written.Text);
            suiviStatus = parsed.Status == SuiviCompliance.NonCompliant ? "non_compliant" : suiviStatus;
        }

        if (sections.Length is >= 4 and <= 8)
        {
            await SaveOutlineAsync(sections, request.Question, ct);
        }

        var citations = passages.Select(p => new Citation(p.DocumentId, p.FileName, p.ChunkIndex, Math.Round(p.Score, 4),
            Snippet(p.Text), p.ChunkId)).ToImmutableArray();
        var followUp = resolution.Kind == FollowUpKind.Resolved
            ? new FollowUpInfo(true, resolution.SectionId, resolution.RefType, null)
            : null;
        return new QueryResult(request.QueryId, _key.ThreadId, mode, text,
            [.. sections.Select(s => new SectionRef(s.Id, s.Title))], followUp, [], citations, written?.Model,
            clock.ElapsedMilliseconds, retrievalQuery, suiviStatus);
    }

    private QueryResult Clarify(QueryRequest request, ImmutableArray<OutlineSection> outline, FollowUpResolution resolution, Stopwatch clock)
    {
        var english = LanguageGuess.IsEnglish(request.Question);
        var choices = outline.Select(s => new SectionRef(s.Id, s.Title)).ToImmutableArray();
        string text;
        if (choices.IsEmpty)
        {
            text = english
                ? "This conversation has no structured answer yet, so there is no point to detail. Ask your question first, then ask for the detail of one of its points (S1…S8)."
                : "Cette conversation n'a pas encore de réponse structurée : il n'y a pas de point à détailler. Posez d'abord votre question, puis demandez le détail d'un de ses points (S1…S8).";
        }
        else
        {
            var lead = resolution.Reason == "unknown_section"
                ? (english ? "That point does not exist in the previous answer. Which point should I detail?" : "Ce point n'existe pas dans la réponse précédente. Quel point souhaitez-vous détailler ?")
                : (english ? "Which point should I detail?" : "Quel point souhaitez-vous détailler ?");
            text = lead + "\n" + string.Join("\n", choices.Select(c => $"[{c.Id}] {c.Title}"));
        }

        return new QueryResult(request.QueryId, _key.ThreadId, AnswerModes.Clarification, text, [],
            new FollowUpInfo(false, null, resolution.RefType, resolution.Reason), choices, [], null,
            clock.ElapsedMilliseconds, "", "none");
    }

    private async Task SaveOutlineAsync(ImmutableArray<OutlineSection> sections, string question, CancellationToken ct)
    {
        var expected = _state?.Version ?? 0;
        var version = await conversations.SaveThreadAsync(_key, sections, question, expected, ct);
        if (version is null)
        {
            // Someone else wrote this thread (another activation during a silo failover): take theirs, then ours.
            var current = await conversations.LoadThreadAsync(_key, ct);
            version = await conversations.SaveThreadAsync(_key, sections, question, current?.Version ?? 0, ct)
                ?? throw new InvalidOperationException("thread_state changed concurrently twice; retry the request");
        }

        _state = new ThreadStateRow(sections, question, version.Value, DateTimeOffset.UtcNow);
    }

    private static string Snippet(string text) => text.Length <= 240 ? text : text[..240].TrimEnd() + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "Query {QueryId} of tenant {TenantId} ({CallerApp}) answered in {Mode} mode in {LatencyMs} ms")]
    private static partial void LogAnswered(ILogger logger, string tenantId, string callerApp, Guid queryId, string mode, long latencyMs);
}
