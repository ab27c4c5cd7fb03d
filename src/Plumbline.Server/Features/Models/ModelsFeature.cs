namespace Plumbline.Server.Features.Models;

/// <summary>Registers model providers, the chat-completions client and generation jobs (one line each in the host).</summary>
public static class ModelsFeature
{
    public static IServiceCollection AddModels(this IServiceCollection services)
    {
        services.AddSingleton(sp => ModelClientOptions.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<ChatCompletionClient>();
        services.AddScoped<ModelProviders>();
        return services;
    }

    public static IEndpointRouteBuilder MapModelsFeature(this IEndpointRouteBuilder app)
    {
        app.MapProviderEndpoints();
        return app;
    }
}
