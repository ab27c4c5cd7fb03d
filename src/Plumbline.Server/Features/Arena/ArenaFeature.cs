namespace Plumbline.Server.Features.Arena;

/// <summary>Registers model evaluation (leaderboard) and red-teaming (findings, live chat): one line each in the host.</summary>
public static class ArenaFeature
{
    public static IServiceCollection AddArena(this IServiceCollection services)
    {
        services.AddScoped<LeaderboardService>();
        services.AddScoped<FindingsService>();
        services.AddScoped<LiveChatService>();
        services.AddSingleton<ChatRateLimiter>();
        return services;
    }

    public static IEndpointRouteBuilder MapArenaFeature(this IEndpointRouteBuilder app)
    {
        app.MapArenaEndpoints();
        app.MapArenaPages();
        app.MapLiveChatEndpoints();
        return app;
    }
}
