using AuroraNexus.WebFront.Api;

namespace AuroraNexus.Tests.Api;

public sealed class LoginThrottleTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Ten_failures_block_the_email_until_the_window_passes_and_a_success_clears_it()
    {
        var clock = new ManualClock();
        var throttle = new LoginThrottle(clock);
        for (var i = 0; i < LoginThrottle.MaxFailures - 1; i++)
        {
            throttle.Failed("a@x.test");
        }

        Assert.Null(throttle.RetryAfter("a@x.test"));
        throttle.Failed("A@X.test ");
        Assert.Equal(LoginThrottle.Window, throttle.RetryAfter("a@x.test"));
        Assert.Null(throttle.RetryAfter("b@x.test"));

        clock.Now += LoginThrottle.Window + TimeSpan.FromSeconds(1);
        Assert.Null(throttle.RetryAfter("a@x.test"));
        throttle.Failed("a@x.test");
        Assert.Null(throttle.RetryAfter("a@x.test"));
        throttle.Succeeded("a@x.test");
        for (var i = 0; i < LoginThrottle.MaxFailures - 1; i++)
        {
            throttle.Failed("a@x.test");
        }

        Assert.Null(throttle.RetryAfter("a@x.test"));
    }
}
