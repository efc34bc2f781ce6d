using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Tests.Conversation;

/// <summary>The cache's lifetime and capacity rules, with the tenant's policy and a clock the test moves.</summary>
public sealed class AnswerCacheGrainTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly CachedAnswer Answer = new("extractive", "Réponse.", [], [], null, "compliant");

    [Fact]
    public async Task An_answer_is_served_for_the_tenants_lifetime_and_not_a_minute_more()
    {
        var clock = new ManualClock();
        var cache = new AnswerCacheGrain(clock);
        var policy = CachePolicy.Of(TenantSettings.Defaults with { CacheTtlMinutes = 30 });
        Assert.Equal(TimeSpan.FromMinutes(30), policy.Lifetime);
        var generation = (await cache.LookupAsync("q", policy)).Generation;
        await cache.PutAsync("q", Answer, generation, policy);

        clock.Now += TimeSpan.FromMinutes(30);
        Assert.Equal(Answer, (await cache.LookupAsync("q", policy)).Answer);
        clock.Now += TimeSpan.FromMinutes(1);
        Assert.Null((await cache.LookupAsync("q", policy)).Answer);
        // Expired entries are dropped, not kept for a longer lifetime given later.
        Assert.Null((await cache.LookupAsync("q", CachePolicy.Of(TenantSettings.Defaults))).Answer);
    }

    [Fact]
    public async Task A_shorter_lifetime_applies_to_answers_already_stored()
    {
        var clock = new ManualClock();
        var cache = new AnswerCacheGrain(clock);
        var hours = CachePolicy.Of(TenantSettings.Defaults);
        await cache.PutAsync("q", Answer, 0, hours);

        clock.Now += TimeSpan.FromMinutes(11);
        Assert.Null((await cache.LookupAsync("q", CachePolicy.Of(TenantSettings.Defaults with { CacheTtlMinutes = 10 }))).Answer);
    }

    [Fact]
    public async Task A_zero_lifetime_stores_nothing_and_serves_nothing()
    {
        var clock = new ManualClock();
        var cache = new AnswerCacheGrain(clock);
        var off = CachePolicy.Of(TenantSettings.Defaults with { CacheTtlMinutes = 0 });
        Assert.True(off.IsOff);

        await cache.PutAsync("q", Answer, 0, off);
        Assert.Null((await cache.LookupAsync("q", CachePolicy.Of(TenantSettings.Defaults))).Answer);

        await cache.PutAsync("q", Answer, 0, CachePolicy.Of(TenantSettings.Defaults));
        Assert.Equal(Answer, (await cache.LookupAsync("q", CachePolicy.Of(TenantSettings.Defaults))).Answer);
        Assert.Null((await cache.LookupAsync("q", off)).Answer);
    }

    [Fact]
    public async Task Beyond_the_tenants_capacity_the_least_recently_used_answer_goes_first()
    {
        var cache = new AnswerCacheGrain(new ManualClock());
        var policy = CachePolicy.Of(TenantSettings.Defaults with { CacheMaxEntries = 10 });
        for (var i = 0; i < 10; i++)
        {
            await cache.PutAsync($"q{i}", Answer, 0, policy);
        }

        Assert.NotNull((await cache.LookupAsync("q0", policy)).Answer); // q0 used again: q1 is now the oldest
        await cache.PutAsync("q10", Answer, 0, policy);

        Assert.Null((await cache.LookupAsync("q1", policy)).Answer);
        foreach (var kept in new[] { "q0", "q2", "q9", "q10" })
        {
            Assert.NotNull((await cache.LookupAsync(kept, policy)).Answer);
        }
    }

    [Fact]
    public async Task An_answer_computed_before_an_invalidation_is_not_stored()
    {
        var cache = new AnswerCacheGrain(new ManualClock());
        var policy = CachePolicy.Of(TenantSettings.Defaults);
        var generation = (await cache.LookupAsync("q", policy)).Generation;
        await cache.InvalidateAsync();
        await cache.PutAsync("q", Answer, generation, policy);
        Assert.Null((await cache.LookupAsync("q", policy)).Answer);
    }
}
