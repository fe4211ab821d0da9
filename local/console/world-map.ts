/**
 * The object page's map, drawn offline: Natural Earth's countries at 1:50m (the `world-atlas`
 * package's TopoJSON) projected with d3-geo around the photo's position. No tiles, no network: the
 * console works on a machine without internet, and a photo's location never leaves it.
 *
 * The page gets shapes, not markup: each country's path and name, the point, the graticule. It
 * builds the SVG elements itself, as it puts every value into the page as text.
 */
import { readFileSync } from "node:fs";
import type { Feature, FeatureCollection, Geometry } from "geojson";
import type { GeometryObject, Topology } from "topojson-specification";

export interface MapShape {
  width: number;
  height: number;
  /** Degrees of longitude across the map. */
  spanDegrees: number;
  countries: { name: string; path: string }[];
  graticule: string;
  point: { x: number; y: number };
}

/** Wide enough to show the country and its neighbours, narrow enough to place a city. */
const SPAN_DEGREES = 24;
const [WIDTH, HEIGHT] = [640, 360];
/** Mercator cannot centre on a pole; the map stops here and the point is kept on its edge. */
const MAX_CENTRE_LATITUDE = 75;

type Countries = FeatureCollection<Geometry, { name: string }>;
let countries: Promise<Countries> | undefined;

/** Loaded on the first map drawn (d3-geo and topojson-client are ES modules; the 750 KB atlas is parsed once). */
function loadCountries(): Promise<Countries> {
  countries ??= (async () => {
    const { feature } = await import("topojson-client");
    const topology = JSON.parse(readFileSync(require.resolve("world-atlas/countries-50m.json"), "utf8")) as Topology<{
      countries: GeometryObject<{ name: string }>;
    }>;
    return feature(topology, topology.objects.countries) as Countries;
  })();
  return countries;
}

export function validCoordinates(latitude: number, longitude: number): boolean {
  return Number.isFinite(latitude) && Number.isFinite(longitude) && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180;
}

export async function mapAround(latitude: number, longitude: number): Promise<MapShape> {
  const [{ geoMercator, geoPath, geoGraticule10 }, world] = await Promise.all([import("d3-geo"), loadCountries()]);
  const centre = Math.max(-MAX_CENTRE_LATITUDE, Math.min(MAX_CENTRE_LATITUDE, latitude));
  const projection = geoMercator()
    .center([longitude, centre])
    .scale(WIDTH / ((SPAN_DEGREES * Math.PI) / 180))
    .translate([WIDTH / 2, HEIGHT / 2])
    .clipExtent([
      [0, 0],
      [WIDTH, HEIGHT],
    ]);
  const path = geoPath(projection).digits(1);
  const shapes = world.features.flatMap((country: Feature<Geometry, { name: string }>) => {
    const d = path(country);
    return d ? [{ name: country.properties.name, path: d }] : [];
  });
  const [x, y] = projection([longitude, latitude])!;
  return { width: WIDTH, height: HEIGHT, spanDegrees: SPAN_DEGREES, countries: shapes, graticule: path(geoGraticule10()) ?? "", point: { x, y } };
}
