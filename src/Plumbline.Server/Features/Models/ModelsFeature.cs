using Plumbline.Server.Features.Jobs;

namespace Plumbline.Server.Features.Models;

/// <summary>Registers model providers, the chat-completions client, the job runner and generation jobs (one line each in the host).</summary>
public static class ModelsFeature
{
    public static IServiceCollection AddModels(this IServiceCollection services)
    {
        services.AddSingleton(sp => ModelClientOptions.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<ChatCompletionClient>();
        services.AddScoped<ModelProviders>();
        // The job runner is general (any IJobHandler); generation is its first kind of job.
        services.AddSingleton(sp => JobRunnerOptions.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<JobSignal>();
        services.AddHostedService<JobRunner>();
        services.AddSingleton<IJobHandler, GenerationJobs>();
        return services;
    }

    public static IEndpointRouteBuilder MapModelsFeature(this IEndpointRouteBuilder app)
    {
        app.MapProviderEndpoints();
        app.MapGenerationEndpoints();
        app.MapJobEndpoints();
        app.MapJobPages();
        app.MapProviderPages();
        return app;
    }
}
