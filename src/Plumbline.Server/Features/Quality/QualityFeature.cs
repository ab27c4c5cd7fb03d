namespace Plumbline.Server.Features.Quality;

/// <summary>Registers the quality feature's services and endpoints (one line each in the host).</summary>
public static class QualityFeature
{
    public static IServiceCollection AddQuality(this IServiceCollection services)
    {
        services.AddScoped<QualityService>();
        services.AddScoped<AnnotationImportService>();
        services.AddScoped<ReviewService>();
        services.AddSingleton<NeedsReviewCache>();
        return services;
    }

    public static IEndpointRouteBuilder MapQualityFeature(this IEndpointRouteBuilder app)
    {
        app.MapQualityEndpoints();
        app.MapGoldEndpoints();
        app.MapReviewEndpoints();
        app.MapCalibrationEndpoints();
        app.MapQualityPages();
        return app;
    }
}
