import "@credits/web/server";
